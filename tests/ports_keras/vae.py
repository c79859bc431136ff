"""A variational autoencoder with a custom train_step, in the shape of keras.io's "Variational
AutoEncoder" example: a Sampling layer, encoder and decoder sub-models built with the
functional API, loss trackers (keras.metrics.Mean) listed by the `metrics` property, the
sampling and the losses written with keras.ops (ops.shape, ops.exp, ops.square, ops.sum(axis=),
ops.mean) as the example writes them, and a train_step that takes gradients the way Keras does
on its PyTorch backend (zero_grad, loss.backward(), `v.value.grad`, optimizer.apply under
no_grad). Data: synthetic 8x8 images of a bar at a random place (instead of MNIST digits)."""
# --- imports ---
import numpy as np
import torch
import keras
from keras import layers
from keras import ops
# --- end imports ---

latent_dim = 2


def get_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 8, 8, 1), dtype="float32")
    for i, (r, c) in enumerate(rng.integers(0, 6, size=(n, 2))):
        x[i, r:r + 3, c, 0] = 1.0
    return x


class Sampling(layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * epsilon, epsilon ~ N(0, 1) from the layer's own seed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_encoder():
    inputs = keras.Input(shape=(8, 8, 1))
    x = layers.Conv2D(8, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder():
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(4 * 4 * 8, activation="relu")(latent_inputs)
    x = layers.Reshape((4, 4, 8))(x)
    x = layers.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, inputs):
        return self.decoder(self.encoder(inputs)[2])

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        self.zero_grad()
        z_mean, z_log_var, z = self.encoder(data)
        reconstruction = self.decoder(z)
        reconstruction_loss = ops.mean(
            ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        total_loss = reconstruction_loss + kl_loss
        total_loss.backward()
        weights = self.trainable_weights
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            self.optimizer.apply(grads, weights)
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def build_model():
    return VAE(build_encoder(), build_decoder())


def train(vae, epochs=6, batch_size=32):
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))
    history = vae.fit(get_data(), epochs=epochs, batch_size=batch_size, verbose=0)
    return history.history


if __name__ == "__main__":
    print(train(build_model()))
