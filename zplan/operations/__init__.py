"""What each command does, one module per concern; nothing here prints.

The CLI parses arguments, calls one operation and hands its typed result to a
view in ``zplan.render``. Views reach the engine only as hooks and callbacks.
"""
