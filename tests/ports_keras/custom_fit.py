"""A model overriding train_step and test_step, in the shape of keras.io's "Customizing what
happens in fit() with PyTorch" guide: the step calls the model, takes the compiled loss with
compute_loss, takes gradients with loss.backward() and `v.value.grad`, applies them with the
compiled optimizer under no_grad, and updates `self.metrics` (the loss tracker and the
compiled metrics). Data: a synthetic regression (instead of random arrays)."""
# --- imports ---
import numpy as np
import torch
import keras
from keras import layers
# --- end imports ---


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, :3] @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 * np.sin(3 * x[:, 3:4])).astype("float32")
    return x, y


def build_model(dropout=0.0):
    inputs = keras.Input(shape=(8,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1)(x)
    return CustomModel(inputs, outputs)


def train(model, optimizer=None, epochs=5, shuffle=True):
    x, y = get_data()
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=1e-2), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=shuffle, verbose=0)
    x_test, y_test = get_data(64, seed=1)
    return history.history["loss"], model.evaluate(x_test, y_test, verbose=0)


if __name__ == "__main__":
    print(train(build_model()))
