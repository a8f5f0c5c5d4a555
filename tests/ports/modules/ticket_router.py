"""keras-io's functional API guide, multi-input and multi-output part, ported: the ticket router.

https://keras.io/guides/functional_api/#models-with-multiple-inputs-and-outputs

Three named inputs (title and body as word ids, twelve binary tags) and two heads that return logits: `priority`
(one logit) and `department` (four). The guide compiles a loss per head, both from_logits=True, weighted 1.0 and
0.2; here `loss` is a tuple of two functions this module defines (Keras knows no name for from_logits=True) and
`loss_weights` a tuple, both by the outputs' position, and `metrics` a dict, one metric per head. The guide trains
on random arrays; make_tickets draws tickets whose priority follows their tags and whose department follows their
title, so the heads have something to learn. 1,200 train and 400 test tickets.

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run ticket_router
"""

import dataclasses

import keras
import numpy as np
from keras import layers

import nnlab
from nnlab.data import Splits

NUM_TAGS, NUM_WORDS, NUM_DEPARTMENTS = 12, 100, 4


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "adam"
    learning_rate: float = 0.01
    loss: tuple[str, ...] = ("priority_loss", "department_loss")
    loss_weights: tuple[float, ...] = (1.0, 0.2)
    metrics: dict[str, str] = dataclasses.field(
        default_factory=lambda: {"priority": "binary_accuracy", "department": "categorical_accuracy"}
    )
    epochs: int = 5
    batch_size: int = 32
    validation_fraction: float = 0.0


def priority_loss(y_true, y_pred):
    return keras.losses.binary_crossentropy(y_true, y_pred, from_logits=True)


def department_loss(y_true, y_pred):
    return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)


def make_tickets(count, rng):
    """({"title", "body", "tags"}, {"priority", "department"}): the department is the commonest word id modulo 4 in
    the title, the priority high when two of the first three tags are set; the body is noise, as the guide's
    random data all is."""
    title = rng.integers(0, NUM_WORDS, size=(count, 10))
    body = rng.integers(0, NUM_WORDS, size=(count, 20))
    tags = rng.integers(0, 2, size=(count, NUM_TAGS)).astype("float32")
    words = np.stack([(title % NUM_DEPARTMENTS == d).sum(axis=1) for d in range(NUM_DEPARTMENTS)], axis=1)
    department = keras.utils.to_categorical(words.argmax(axis=1), NUM_DEPARTMENTS)
    priority = (tags[:, :3].sum(axis=1, keepdims=True) >= 2).astype("float32")
    return {"title": title, "body": body, "tags": tags}, {"priority": priority, "department": department}


def make_data(config):
    rng = np.random.default_rng(config.seed)
    return Splits(train=make_tickets(1200, rng), test=make_tickets(400, rng))


def build_model(config):
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(NUM_TAGS,), name="tags")
    title_features = layers.GlobalAveragePooling1D()(layers.Embedding(NUM_WORDS, 16)(title_input))
    body_features = layers.GlobalAveragePooling1D()(layers.Embedding(NUM_WORDS, 8)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
