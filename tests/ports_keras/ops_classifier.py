"""A classifier whose train_step and test_step compute everything with keras.ops, the way
keras.io's custom-training examples write backend-agnostic steps: a label-smoothed
cross-entropy from ops.one_hot and ops.log_softmax, a margin penalty on the true class's logit
(ops.take_along_axis, ops.where, ops.max, ops.maximum), a confidence penalty (ops.softmax,
ops.clip, ops.log), an L2 term over the kernels (ops.norm), and accuracy / top-2 accuracy
(ops.argmax, ops.top_k, ops.equal, ops.any, ops.cast, ops.mean) kept in keras.metrics.Mean
trackers; gradients taken the Keras-on-PyTorch way (zero_grad, loss.backward(), `v.value.grad`,
optimizer.apply under no_grad). Data: three overlapping Gaussian blobs in 6-D."""
# --- imports ---
import numpy as np
import torch
import keras
from keras import layers
from keras import ops
# --- end imports ---

num_classes = 3


def get_data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, 6)) * 1.5
    y = rng.integers(0, num_classes, size=n)
    x = (centers[y] + rng.normal(size=(n, 6))).astype("float32")
    return x, y.astype("int64")


class OpsClassifier(keras.Model):
    def __init__(self, *args, smoothing=0.1, margin=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.smoothing = smoothing
        self.margin = margin
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.Mean(name="accuracy")
        self.top2_tracker = keras.metrics.Mean(name="top2")

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker, self.top2_tracker]

    def objective(self, logits, y):
        y = ops.cast(y, "int32")
        one_hot = ops.one_hot(y, num_classes)
        targets = one_hot * (1.0 - self.smoothing) + self.smoothing / num_classes
        ce = -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)
        true_logit = ops.squeeze(ops.take_along_axis(logits, ops.expand_dims(y, -1), axis=-1), axis=-1)
        best_other = ops.max(ops.where(ops.greater(one_hot, 0.5), -1e9, logits), axis=-1)
        hinge = ops.maximum(0.0, self.margin + best_other - true_logit)
        probs = ops.softmax(logits)
        entropy = -ops.sum(probs * ops.log(ops.clip(probs, 1e-7, 1.0)), axis=-1)
        l2 = ops.sum(ops.stack([ops.square(ops.norm(w)) for w in self.trainable_weights if len(ops.shape(w)) == 2]))
        return ops.mean(ce) + 0.1 * ops.mean(hinge) - 0.05 * ops.mean(entropy) + 1e-3 * l2

    def track(self, loss, logits, y):
        y = ops.cast(y, "int32")
        correct = ops.equal(ops.argmax(logits, axis=-1), y)
        _, top2 = ops.top_k(logits, 2)
        in_top2 = ops.any(ops.equal(top2, ops.expand_dims(y, -1)), axis=-1)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(ops.mean(ops.cast(correct, "float32")))
        self.top2_tracker.update_state(ops.mean(ops.cast(in_top2, "float32")))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        logits = self(x, training=True)
        loss = self.objective(logits, y)
        loss.backward()
        weights = self.trainable_weights
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            self.optimizer.apply(grads, weights)
        return self.track(loss, logits, y)

    def test_step(self, data):
        x, y = data
        logits = self(x, training=False)
        return self.track(self.objective(logits, y), logits, y)


def build_model(dropout=0.0):
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(16, activation="tanh")(inputs)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes)(x)
    return OpsClassifier(inputs, outputs)


def train(model, optimizer=None, epochs=6, shuffle=True):
    x, y = get_data()
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=1e-2))
    history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=shuffle, verbose=0)
    x_test, y_test = get_data(90, seed=0)
    scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    return history.history["loss"], (history.history["accuracy"], [scores["loss"], scores["accuracy"]])


if __name__ == "__main__":
    print(train(build_model()))
