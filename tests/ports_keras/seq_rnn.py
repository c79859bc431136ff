"""A stacked recurrent sequence-to-sequence tagger, in the shape of keras.io's RNN guide
examples: LSTM(return_sequences=True) into GRU(return_sequences=True) and a per-step
TimeDistributed(Dense) head. Data: synthetic sequences; the target at each step is the
running sum's sign pattern, so the model has to carry state."""
# --- imports ---
import numpy as np
import keras
from keras import layers
# --- end imports ---

steps, features = 10, 3


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype("float32")
    s = np.cumsum(x[:, :, 0], axis=1)
    y = np.stack([s > 0, np.abs(s) > 1.5], axis=-1).astype("float32")
    return x, y


def build_model(dropout=0.0):
    return keras.Sequential([
        keras.Input(shape=(steps, features)),
        layers.LSTM(16, return_sequences=True, dropout=dropout),
        layers.GRU(16, return_sequences=True),
        layers.TimeDistributed(layers.Dense(2, activation="sigmoid")),
    ])


def train(model, optimizer=None, epochs=6, shuffle=True):
    x, y = get_data()
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["binary_accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=shuffle, verbose=0)
    return history.history["loss"], history.history["binary_accuracy"]


if __name__ == "__main__":
    model = build_model()
    model.summary()
    print(train(model))
