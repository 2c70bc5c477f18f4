"""A plain Python step reading TFX artifacts: did the Evaluator bless the model, did the Pusher push it?"""


def report(blessing, pushed) -> dict:
    # Each input is a zplan.tfx.TfxArtifact: its files (.path) and TFX's properties.
    return {
        "blessed": blessing.custom_properties.get("blessed") == 1,
        "pushed": pushed.custom_properties.get("pushed") == 1,
    }
