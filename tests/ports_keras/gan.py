"""A GAN with a custom train_step and two optimizers, in the shape of keras.io's "DCGAN" /
"GAN overriding Model.train_step" examples: a discriminator and a generator sub-model, a
compile override taking d_optimizer, g_optimizer and loss_fn, and a train_step that updates
the discriminator on real and generated samples, then the generator through the
discriminator, with gradients taken the Keras-on-PyTorch way. Data: synthetic 2-D points
around (2, -1) (instead of CelebA faces); the generator's samples have to move there. The step's
tensors are made as keras.io writes them: keras.random.normal with a SeedGenerator for the
latent vectors, ops.concatenate / ops.ones / ops.zeros for the batches and labels, and
keras.random.uniform noise on the labels (kept inside [0, 1]: see train_step)."""
# --- imports ---
import numpy as np
import torch
import keras
from keras import layers
from keras import ops
# --- end imports ---

latent_dim = 4
center = np.array([2.0, -1.0], dtype="float32")


def get_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    return (center + 0.3 * rng.normal(size=(n, 2))).astype("float32")


def build_discriminator():
    return keras.Sequential([keras.Input(shape=(2,)), layers.Dense(16), layers.LeakyReLU(negative_slope=0.2),
                             layers.Dense(1)], name="discriminator")


def build_generator():
    return keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(16), layers.LeakyReLU(negative_slope=0.2),
                             layers.Dense(2)], name="generator")


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, x):  # (Keras builds a subclassed model by calling it on a batch of the data)
        return self.discriminator(x)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _step(self, model, optimizer, loss):
        model.zero_grad()
        loss.backward()
        weights = model.trainable_weights
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            optimizer.apply(grads, weights)

    def train_step(self, real):
        batch_size = ops.shape(real)[0]
        # the discriminator: generated samples labelled 1, real ones 0, plus a little label noise
        # (up to 1.05, as keras.io's example adds it)
        z = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        with torch.no_grad():
            fake = self.generator(z)
        combined = ops.concatenate([fake, real], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels = labels + 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
        d_loss = self.loss_fn(labels, self.discriminator(combined))
        self._step(self.discriminator, self.d_optimizer, d_loss)
        # the generator: make the discriminator call its samples real
        z = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        g_loss = self.loss_fn(ops.zeros((batch_size, 1)), self.discriminator(self.generator(z)))
        self._step(self.generator, self.g_optimizer, g_loss)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_model():
    return GAN(build_discriminator(), build_generator(), latent_dim)


def sample(gan, n=256, seed=1):
    z = np.random.default_rng(seed).normal(size=(n, latent_dim)).astype("float32")
    return np.asarray(gan.generator.predict(z, verbose=0))


def train(gan, epochs=8):
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                g_optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    history = gan.fit(get_data(), batch_size=32, epochs=epochs, verbose=0)
    return history.history


if __name__ == "__main__":
    gan = build_model()
    print(train(gan), sample(gan).mean(0))
