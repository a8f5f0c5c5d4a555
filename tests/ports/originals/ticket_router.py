"""keras-io's functional API guide, multi-input and multi-output part, as a plain Keras script: the ticket router.

https://keras.io/guides/functional_api/#models-with-multiple-inputs-and-outputs

Three inputs (a title and a body as word ids, binary tags), two logit heads (priority, department), a loss per head
with from_logits=True and loss_weights [1.0, 0.2], x and y fitted as dicts by name. Only the data (make_tickets in
the port module, which the guide draws at random) and the sizes are changed, so the example trains in seconds.
"""

import keras
from keras import layers

NUM_TAGS, NUM_WORDS, NUM_DEPARTMENTS = 12, 100, 4


def train(train, test, epochs, batch_size, seed):
    """Build, fit and evaluate the guide's model; returns its test numbers (loss, each head's loss and accuracy)."""
    keras.utils.set_random_seed(seed)
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(NUM_TAGS,), name="tags")
    title_features = layers.GlobalAveragePooling1D()(layers.Embedding(NUM_WORDS, 16)(title_input))
    body_features = layers.GlobalAveragePooling1D()(layers.Embedding(NUM_WORDS, 8)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=[
            keras.losses.BinaryCrossentropy(from_logits=True),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        ],
        loss_weights=[1.0, 0.2],
        metrics={"priority": ["binary_accuracy"], "department": ["categorical_accuracy"]},
    )
    model.fit(train[0], train[1], epochs=epochs, batch_size=batch_size, verbose=0)
    return model.evaluate(test[0], test[1], verbose=0, return_dict=True)
