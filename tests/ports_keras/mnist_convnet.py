"""A small convnet classifier in the shape of keras.io's "Simple MNIST convnet" example:
Sequential with an Input, two Conv2D + MaxPooling2D blocks, Flatten, Dropout and a softmax
Dense, trained with compile / fit / evaluate on channels-last images. Data: synthetic 12x12
single-channel images whose class is where a bright blob sits (instead of MNIST)."""
# --- imports ---
import numpy as np
import keras
from keras import layers
# --- end imports ---

num_classes = 4
input_shape = (12, 12, 1)


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=n)
    x = rng.normal(0.0, 0.3, size=(n,) + input_shape).astype("float32")
    for i, c in enumerate(y):  # class c: a blob in quadrant c
        r, q = 6 * (c // 2), 6 * (c % 2)
        x[i, r + 1:r + 5, q + 1:q + 5, 0] += 1.0
    return x, keras.utils.to_categorical(y, num_classes)


def build_model(dropout=0.5):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ])


def train(model, optimizer=None, epochs=4, shuffle=True):
    x_train, y_train = get_data()
    model.compile(loss="categorical_crossentropy", optimizer=optimizer or keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, shuffle=shuffle, validation_split=0.1,
                        verbose=0)
    x_test, y_test = get_data(64, seed=1)
    score = model.evaluate(x_test, y_test, verbose=0)
    return history.history["loss"], (score, history.history["val_loss"])


if __name__ == "__main__":
    model = build_model()
    model.summary()
    print(train(model))
