"""Text classification with Embedding(mask_zero=True) and a Bidirectional LSTM, in the shape
of keras.io's "Bidirectional LSTM on IMDB" example. Data: synthetic token sequences of
varying length, padded with pad_sequences; class 1 when token 2 occurs (instead of IMDB)."""
# --- imports ---
import numpy as np
import keras
from keras import layers
# --- end imports ---

max_features, maxlen = 40, 12


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [list(rng.integers(3, max_features, size=rng.integers(3, 16))) for _ in range(n)]
    y = rng.integers(0, 2, size=n)
    for s, label in zip(seqs, y):
        if label:
            s[rng.integers(0, len(s))] = 2
    return keras.utils.pad_sequences(seqs, maxlen=maxlen), y.astype("float32")


def build_model(dropout=0.0):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 16, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(12, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(12, dropout=dropout))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def train(model, optimizer=None, epochs=8, shuffle=True):
    x_train, y_train = get_data()
    x_val, y_val = get_data(64, seed=1)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(5e-3), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, shuffle=shuffle,
                        validation_data=(x_val, y_val), verbose=0)
    return history.history["loss"], history.history["val_accuracy"]


if __name__ == "__main__":
    model = build_model()
    model.summary()
    print(train(model))
