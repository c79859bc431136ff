"""Runnable examples: python -m dlcore.examples.<name>.

- fashion_mnist: the main job (MLP or CNN on Fashion-MNIST; also `dlcore-train`)
- demo: a two-spirals MLP with no data files
- autoencoder, vae, gan, transfer, tune_mlp: the course examples (docs/RESULTS.md has their
  measured numbers; each takes --full, --write-results and --help)
- char_lm, text_classifier: the text examples, on Debian's `fortunes` corpus (same options)
- word2vec (dlcore.word2vec on Debian's fortunes texts), dqn (CartPole-v1, needs gymnasium):
  the course examples beyond Fashion-MNIST
"""

__all__ = []
