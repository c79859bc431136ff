"""REINFORCE (pytorch/examples reinforcement_learning/reinforce.py's layout) on a small
environment written here: a policy network with dropout and a softmax head, actions drawn
from a Categorical, their log-probabilities saved during the episode, normalized discounted
returns, and the policy-gradient loss summed over the episode."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


class Corridor:
    """Walk a corridor of `length` cells from the left end; action 1 steps right, 0 left.
    Reward 1 on reaching the right end (the episode ends), -0.01 per other step. The
    observation is the one-hot position and a constant feature."""

    def __init__(self, length=6, max_steps=20):
        self.length, self.max_steps = length, max_steps

    def reset(self):
        self.pos, self.t = 0, 0
        return self._obs()

    def _obs(self):
        obs = np.zeros(self.length + 1, dtype=np.float64)
        obs[self.pos], obs[-1] = 1.0, 1.0
        return obs

    def step(self, action):
        self.t += 1
        self.pos = max(0, self.pos + (1 if action == 1 else -1))
        done = self.pos == self.length - 1
        reward = 1.0 if done else -0.01
        return self._obs(), reward, done or self.t >= self.max_steps


class Policy(nn.Module):
    def __init__(self, n_obs, n_actions, dropout):
        super().__init__()
        self.affine1 = nn.Linear(n_obs, 32)
        self.dropout = nn.Dropout(p=dropout)
        self.affine2 = nn.Linear(32, n_actions)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.dropout(F.relu(self.affine1(x)))
        return F.softmax(self.affine2(x), dim=1)


def select_action(policy, state, args):
    state = torch.from_numpy(state).to(torch.get_default_dtype()).unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = args.sample(m)
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma):
    eps = np.finfo(np.float32).eps.item()
    R, returns = 0.0, []
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    policy_loss = []
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    env = Corridor()
    policy = Policy(env.length + 1, 2, 0.0 if args.double else 0.1)
    args.init(policy)
    optimizer = optim.Adam(policy.parameters(), lr=3e-2)
    losses, lengths = [], []
    for i_episode in range(args.steps):
        state, ep_reward = env.reset(), 0.0
        for t in range(1, env.max_steps + 1):
            action = select_action(policy, state, args)
            state, reward, done = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if done:
                break
        lengths.append(t)
        losses.append(finish_episode(policy, optimizer, args.gamma))
    args.lengths = lengths
    return losses if args.double else lengths
