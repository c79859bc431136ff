"""A functional-API model with two inputs joined by Concatenate, in the shape of keras.io's
functional-API guide (a title and a body input, each encoded, concatenated, then a shared
head). Data: synthetic feature vectors whose target depends on both inputs."""
# --- imports ---
import numpy as np
import keras
from keras import layers
# --- end imports ---


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 6)).astype("float32")
    b = rng.normal(size=(n, 4)).astype("float32")
    y = (np.tanh(a[:, :2].sum(1)) - 0.5 * b[:, 0] * b[:, 1]).astype("float32")[:, None]
    return a, b, y


def build_model(dropout=0.2):
    title = keras.Input(shape=(6,), name="title")
    body = keras.Input(shape=(4,), name="body")
    t = layers.Dense(16, activation="relu")(title)
    u = layers.Dense(16, activation="tanh")(body)
    x = layers.Concatenate()([t, u])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(16, activation="relu")(x)
    out = layers.Dense(1, name="score")(x)
    return keras.Model(inputs=[title, body], outputs=out)


def train(model, optimizer=None, epochs=6, shuffle=True):
    a, b, y = get_data()
    model.compile(optimizer=optimizer or keras.optimizers.RMSprop(learning_rate=3e-3), loss="mse", metrics=["mae"])
    history = model.fit([a, b], y, batch_size=32, epochs=epochs, shuffle=shuffle, verbose=0)
    a2, b2, y2 = get_data(64, seed=1)
    return history.history["loss"], model.evaluate([a2, b2], y2, verbose=0)


if __name__ == "__main__":
    model = build_model()
    model.summary()
    print(train(model))
