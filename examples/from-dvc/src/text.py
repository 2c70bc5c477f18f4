"""Tokenising, shared by featurization and evaluation."""


def words(text):
    return [w.strip(".,'").lower() for w in text.split() if len(w) > 2]
