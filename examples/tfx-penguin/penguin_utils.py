"""The module file of the Transform and Trainer steps: preprocessing_fn and run_fn.

zplan keys each step with the function TFX calls from it (and the project code that
function reaches): editing preprocessing_fn reruns Transform and what follows it;
editing run_fn reruns Trainer and what follows it.
"""

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"
BATCH_SIZE = 20


def preprocessing_fn(inputs):
    """Measurements scaled to mean 0, variance 1; the label kept as it is."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    outputs[LABEL] = inputs[LABEL]
    return outputs


def _dataset(file_pattern, data_accessor, transform_output):
    options = tfxio.TensorFlowDatasetOptions(batch_size=BATCH_SIZE, label_key=LABEL)
    return data_accessor.tf_dataset_factory(file_pattern, options, transform_output.transformed_metadata.schema).repeat()


def _model():
    inputs = [tf.keras.layers.Input(shape=(1,), name=name) for name in FEATURES]
    hidden = tf.keras.layers.Dense(8, activation="relu")(tf.keras.layers.concatenate(inputs))
    model = tf.keras.Model(inputs=inputs, outputs=tf.keras.layers.Dense(3)(hidden))
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-2),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def _serving_signature(model, transform_output):
    """Serialized tf.Examples in, logits out: the raw features go through the Transform graph first."""
    model.transform_layer = transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized):
        spec = transform_output.raw_feature_spec()
        spec.pop(LABEL)
        return model(model.transform_layer(tf.io.parse_example(serialized, spec)))

    return serve


def run_fn(fn_args):
    tf.keras.utils.set_random_seed(7)
    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _dataset(fn_args.train_files, fn_args.data_accessor, transform_output)
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, transform_output)
    model = _model()
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, verbose=2)
    signatures = {"serving_default": _serving_signature(model, transform_output)}
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
