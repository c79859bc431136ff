"""Deep Q-learning on gymnasium's CartPole-v1: a Q-network trained from a replay buffer against
a periodically copied target network, epsilon-greedy exploration, the Huber loss and Adam.
Training stops once the greedy policy averages at least 475 (of 500) over 100 consecutive
evaluation episodes; prints the episodes, environment steps and wall time it took.

    python -m dlcore.examples.dqn                  # a few minutes on 2 cores
    python -m dlcore.examples.dqn --full           # 2000 episodes at most instead of 1000
    python -m dlcore.examples.dqn --seed 3         # a seeded run repeats its returns exactly

Needs gymnasium (the optional extra: pip install 'dlcore[rl]'). CartPole-v1 is simulated by
gymnasium itself: no data files, nothing downloaded.

Model (PyTorch-style modules, dlcore.optim.Adam):
  Q(s, .): Linear(4, 128) - ReLU - Linear(128, 128) - ReLU - Linear(128, 2)
  target y = r + gamma * (1 - terminated) * max_a' Q_target(s', a')   (a truncated episode bootstraps)
  loss = Huber(Q(s, a), y), mean over a batch of 64 transitions sampled uniformly from the buffer

The replay buffer and the environment's observations are host data (NumPy arrays, as the data
side of the library keeps them); each sampled batch becomes dlcore tensors once.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import dlcore
from dlcore import nn, optim
import dlcore.nn.functional as F

from . import _common

try:
    import gymnasium as gym
except ImportError:  # the optional 'rl' extra
    gym = None

__all__ = ["QNetwork", "ReplayBuffer", "greedy_returns", "train_dqn", "parse_args", "main"]

ENV_ID = "CartPole-v1"
SOLVED = 475.0


def _require_gym():
    if gym is None:
        raise SystemExit("error: this example needs gymnasium (pip install 'dlcore[rl]')")


class QNetwork(nn.Module):
    """An MLP from observations (N, obs_dim) to action values (N, n_actions)."""

    def __init__(self, obs_dim, n_actions, hidden=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.net(x)


class ReplayBuffer:
    """A ring buffer of `capacity` transitions (s, a, r, s', terminated) held as NumPy arrays;
    `sample` draws a batch uniformly with the given NumPy generator and returns dlcore tensors."""

    def __init__(self, capacity, obs_dim):
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.s = np.zeros((capacity, obs_dim), np.float32)
        self.s2 = np.zeros((capacity, obs_dim), np.float32)
        self.a = np.zeros(capacity, np.int64)
        self.r = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)

    def __len__(self):
        return self.size

    def add(self, s, a, r, s2, terminated):
        i = self.pos
        self.s[i], self.a[i], self.r[i], self.s2[i], self.done[i] = s, a, r, s2, float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, rng):
        idx = rng.integers(0, self.size, batch_size)
        return (dlcore.tensor(self.s[idx]), dlcore.tensor(self.a[idx]), dlcore.tensor(self.r[idx]),
                dlcore.tensor(self.s2[idx]), dlcore.tensor(self.done[idx]))


def greedy_returns(q, episodes, seed):
    """Returns of `episodes` CartPole-v1 episodes under the greedy policy argmax_a Q(s, a), the
    i-th reset with seed + i. The episodes run side by side, one batched forward per step."""
    _require_gym()
    envs = [gym.make(ENV_ID) for _ in range(episodes)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    returns = [0.0] * episodes
    live = list(range(episodes))
    with dlcore.no_grad(), nn.eval_mode():
        while live:
            acts = q(dlcore.tensor(np.stack([obs[i] for i in live]))).argmax(1).tolist()
            still = []
            for i, a in zip(live, acts):
                obs[i], r, term, trunc, _ = envs[i].step(a)
                returns[i] += r
                if not (term or trunc):
                    still.append(i)
            live = still
    for env in envs:
        env.close()
    return returns


def train_dqn(max_episodes=1000, seed=0, hidden=128, lr=5e-4, gamma=0.99, batch_size=64, buffer_size=50_000,
              learning_starts=1000, train_every=1, target_every=500, eps_start=1.0, eps_end=0.05,
              eps_steps=10_000, check_every=10, check_episodes=10, eval_episodes=100, log=None):
    """Trains a DQN on CartPole-v1 until the greedy policy averages at least 475 over
    `eval_episodes` consecutive evaluation episodes, or for `max_episodes` episodes.

    Every `check_every` training episodes the greedy policy plays `check_episodes` episodes;
    when those average at least 475, the full evaluation of `eval_episodes` episodes decides.
    Everything random is seeded from `seed` (dlcore's generator for the initial weights, a NumPy
    generator for exploration and replay sampling, the environments' resets), so a run repeats
    exactly. Returns {'episode_returns', 'checks', 'solved', 'solved_episode', 'eval_mean',
    'eval_returns', 'steps', 'updates', 'model'}."""
    _require_gym()
    dlcore.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make(ENV_ID)
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    q, target = QNetwork(obs_dim, n_actions, hidden), QNetwork(obs_dim, n_actions, hidden)
    target.load_state_dict(q.state_dict())
    opt = optim.Adam(q.parameters(), lr=lr)
    buf = ReplayBuffer(buffer_size, obs_dim)
    out = {"episode_returns": [], "checks": [], "solved": False, "solved_episode": None, "eval_mean": None,
           "eval_returns": None, "steps": 0, "updates": 0, "model": q}
    best = None
    steps = updates = 0
    for episode in range(1, max_episodes + 1):
        s, _ = env.reset(seed=seed * 100_003 + episode)
        ret, done = 0.0, False
        while not done:
            eps = max(eps_end, eps_start - (eps_start - eps_end) * steps / eps_steps)
            if rng.random() < eps:
                a = int(rng.integers(n_actions))
            else:
                with dlcore.no_grad():
                    a = int(q(dlcore.tensor(s[None])).argmax(1).item())
            s2, r, term, trunc, _ = env.step(a)
            buf.add(s, a, r, s2, term)
            s, ret, done, steps = s2, ret + r, term or trunc, steps + 1
            if steps >= learning_starts and steps % train_every == 0:
                bs, ba, br, bs2, bd = buf.sample(batch_size, rng)
                with dlcore.no_grad():
                    y = br + gamma * (1.0 - bd) * target(bs2).amax(1)
                qsa = q(bs).gather(1, ba.reshape(-1, 1)).reshape(-1)
                loss = F.huber_loss(qsa, y)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q.parameters(), 10.0)
                opt.step()
                updates += 1
                if updates % target_every == 0:
                    target.load_state_dict(q.state_dict())
        out["episode_returns"].append(ret)
        if log and episode % 10 == 0:
            last = out["episode_returns"][-10:]
            log(f"  episode {episode}: mean training return of the last 10 {sum(last) / len(last):.1f}, "
                f"epsilon {eps:.3f}, {steps} steps")
        if steps >= learning_starts and episode % check_every == 0:
            check = greedy_returns(q, check_episodes, seed=10_000_000 + 1000 * episode)
            mean = sum(check) / len(check)
            out["checks"].append((episode, mean))
            if mean >= SOLVED:
                full = greedy_returns(q, eval_episodes, seed=20_000_000 + 1000 * episode)
                fmean = sum(full) / len(full)
                if log:
                    log(f"  episode {episode}: greedy check {mean:.1f}; {eval_episodes} evaluation episodes "
                        f"average {fmean:.1f}")
                if best is None or fmean > best[0]:
                    best = (fmean, full, episode)
                if fmean >= SOLVED:
                    out.update(solved=True, solved_episode=episode)
                    break
    env.close()
    if best is not None:
        out.update(eval_mean=best[0], eval_returns=best[1])
    out.update(steps=steps, updates=updates)
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.dqn",
                                description="Deep Q-learning on gymnasium's CartPole-v1.")
    p.add_argument("--episodes", type=int, default=None,
                   help="training episodes at most (default 1000, 2000 with --full); stops once solved")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--target-every", type=int, default=500, help="gradient steps between target-network copies")
    p.add_argument("--eps-steps", type=int, default=10_000, help="steps over which epsilon falls from 1 to 0.05")
    p.add_argument("--eval-episodes", type=int, default=100)
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns train_dqn's dict plus 'seconds'."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    _require_gym()
    timer = _common.Timer()
    episodes = args.episodes or (2000 if args.full else 1000)
    res = train_dqn(episodes, args.seed, args.hidden, args.lr, args.gamma, args.batch_size,
                    target_every=args.target_every, eps_steps=args.eps_steps, eval_episodes=args.eval_episodes,
                    log=None if args.quiet else print)
    res["seconds"] = timer()
    n = len(res["episode_returns"])
    if res["solved"]:
        print(f"solved after {n} training episodes ({res['steps']} steps, {res['updates']} updates, "
              f"{res['seconds']:.0f} s): greedy average {res['eval_mean']:.1f} over {args.eval_episodes} episodes")
    else:
        best = "never checked" if res["eval_mean"] is None else f"best full evaluation {res['eval_mean']:.1f}"
        print(f"NOT solved in {n} episodes ({res['steps']} steps, {res['seconds']:.0f} s); {best}; "
              f"greedy checks: " + ", ".join(f"{e}:{m:.0f}" for e, m in res["checks"][-10:]))
    if args.write_results:
        ev = res["eval_returns"]
        rows = ["| quantity | value |", "|---|---|",
                f"| solved (greedy average >= {SOLVED:.0f} over {args.eval_episodes} episodes) | "
                f"{'yes' if res['solved'] else 'no'} |",
                f"| greedy average return over {args.eval_episodes} evaluation episodes | "
                + (f"{res['eval_mean']:.1f} (min {min(ev):.0f}) |" if ev else "not reached |"),
                f"| training episodes | {n} |", f"| environment steps / gradient updates | {res['steps']} / "
                f"{res['updates']} |", f"| wall time | {res['seconds']:.0f} s |",
                f"\nCartPole-v1 (gymnasium {gym.__version__}); Q-network 4-{args.hidden}-{args.hidden}-2, Adam lr "
                f"{args.lr}, gamma {args.gamma}, batch {args.batch_size}, Huber loss, target copied every "
                f"{args.target_every} updates, epsilon 1 -> 0.05 over {args.eps_steps} steps, seed {args.seed}. "
                "Every 10 episodes 10 greedy episodes are played; when they average 475 or more, "
                f"{args.eval_episodes} fresh greedy episodes decide. Greedy checks (episode: average): "
                + ", ".join(f"{e}: {m:.0f}" for e, m in res["checks"]) + "."]
        _common.write_results(args, "dqn", "Deep Q-learning on CartPole-v1", argv, rows, seconds=res["seconds"])
        print(f"wrote {args.results_file}")
    return res


if __name__ == "__main__":
    main()
