"""TensorFlow's "Custom training: walkthrough", as its page writes it: a Keras model, a GradientTape loop.

https://www.tensorflow.org/tutorials/customization/custom_training_walkthrough
"""

import tensorflow as tf


def train(train, test, epochs, learning_rate, batch_size, seed):
    """The tutorial's loop on (x, y) arrays; returns the test accuracy and each epoch's mean training loss."""
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(4,)),
            tf.keras.layers.Dense(10, activation=tf.nn.relu),
            tf.keras.layers.Dense(10, activation=tf.nn.relu),
            tf.keras.layers.Dense(3),
        ]
    )
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss(model, x, y, training):
        y_ = model(x, training=training)
        return loss_object(y_true=y, y_pred=y_)

    def grad(model, inputs, targets):
        with tf.GradientTape() as tape:
            loss_value = loss(model, inputs, targets, training=True)
        return loss_value, tape.gradient(loss_value, model.trainable_variables)

    optimizer = tf.keras.optimizers.SGD(learning_rate=learning_rate)
    train_loss_results = []
    train_dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train[0]), seed=seed).batch(batch_size)
    for _ in range(epochs):
        epoch_loss_avg = tf.keras.metrics.Mean()
        for x, y in train_dataset:
            loss_value, grads = grad(model, x, y)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            epoch_loss_avg.update_state(loss_value)
        train_loss_results.append(float(epoch_loss_avg.result()))

    test_accuracy = tf.keras.metrics.Accuracy()
    for x, y in tf.data.Dataset.from_tensor_slices(test).batch(batch_size):
        logits = model(x, training=False)
        prediction = tf.math.argmax(logits, axis=1, output_type=tf.int64)
        test_accuracy(prediction, y)
    return {"accuracy": float(test_accuracy.result()), "losses": train_loss_results}
