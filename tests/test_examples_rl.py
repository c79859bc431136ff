"""The DQN example (issue 15) on gymnasium's CartPole-v1, with tiny settings: a seeded run
repeats exactly (returns and weights), the greedy policy after a short training is far above a
random policy's returns, the replay buffer keeps the newest transitions, and --write-results
writes its section. Skipped without gymnasium (the optional 'rl' extra)."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from dlcore.examples import dqn  # noqa: E402


def random_policy_mean(episodes=50, seed=0):
    env, rng, total = gym.make("CartPole-v1"), np.random.default_rng(seed), 0.0
    for i in range(episodes):
        env.reset(seed=seed + i)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(int(rng.integers(2)))
            total += r
            done = term or trunc
    return total / episodes


def test_replay_buffer_is_a_ring():
    buf = dqn.ReplayBuffer(3, 2)
    for i in range(5):
        buf.add([i, -i], i % 2, float(i), [i + 1, 0], i == 4)
    assert len(buf) == 3 and sorted(buf.r.tolist()) == [2.0, 3.0, 4.0]
    s, a, r, s2, d = buf.sample(16, np.random.default_rng(0))
    assert tuple(s.shape) == (16, 2) and set(r.tolist()) <= {2.0, 3.0, 4.0}
    for k in range(16):  # each sampled row is one stored transition
        i = int(r[k].item())
        assert s[k].tolist() == [i, -i] and a[k].item() == i % 2 and d[k].item() == float(i == 4)


def test_seeded_run_repeats():
    kw = dict(max_episodes=25, seed=7, learning_starts=200, eps_steps=500)
    a, b = dqn.train_dqn(**kw), dqn.train_dqn(**kw)
    assert a["updates"] > 100 and a["episode_returns"] == b["episode_returns"]
    for (n, p), (_, q) in zip(a["model"].state_dict().items(), b["model"].state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=n)


def test_greedy_policy_learns_far_beyond_random(tmp_path):
    res = dqn.main(["--episodes", "150", "--eval-episodes", "20", "--quiet", "--write-results",
                    "--results-file", str(tmp_path / "RESULTS.md")])
    greedy = dqn.greedy_returns(res["model"], 20, seed=12345)
    rand = random_policy_mean()
    assert rand < 40  # CartPole's random policy: about 22
    assert np.mean(greedy) > 5 * rand
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.count("<!-- results:dqn -->") == 1 and f"| training episodes | {len(res['episode_returns'])} |" in text
