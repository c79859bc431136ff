"""A Conv1D time-series classifier in the shape of keras.io's "Timeseries classification from
scratch" example: Conv1D + BatchNormalization + ReLU blocks with padding "same",
GlobalAveragePooling1D and a softmax head, compiled with sparse categorical cross-entropy.
Data: synthetic univariate series, class 1 a sine wave, class 0 noise (instead of FordA)."""
# --- imports ---
import numpy as np
import keras
from keras import layers
# --- end imports ---

length, num_classes = 32, 2


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=n)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    x = 0.7 * rng.normal(size=(n, length)) + y[:, None] * np.sin(0.6 * t + phase)
    return x.astype("float32")[:, :, None], y


def build_model(dropout=0.0):
    inputs = keras.Input(shape=(length, 1))
    x = inputs
    for filters in (8, 8):
        x = layers.Conv1D(filters=filters, kernel_size=3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.8)(x)  # few steps: faster moving statistics
        x = layers.ReLU()(x)
    x = layers.MaxPooling1D(pool_size=2)(x)
    x = layers.Conv1D(filters=8, kernel_size=3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def train(model, optimizer=None, epochs=6, shuffle=True):
    x, y = get_data()
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=shuffle, verbose=0)
    x_test, y_test = get_data(64, seed=1)
    return history.history["loss"], model.evaluate(x_test, y_test, verbose=0)


if __name__ == "__main__":
    model = build_model()
    model.summary()
    print(train(model))
