"""Actor-critic (pytorch/examples reinforcement_learning/actor_critic.py's layout) on a small
environment written here: one shared layer with an action head and a value head, actions
from a Categorical, saved (log_prob, value) pairs, the advantage R - V weighting the policy
loss and a smooth-L1 value loss, summed and stepped once per episode."""
from collections import namedtuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

SavedAction = namedtuple("SavedAction", ["log_prob", "value"])


class Corridor:
    """Walk a corridor of `length` cells from the left end; action 1 steps right, 0 left.
    Reward 1 on reaching the right end (the episode ends), -0.01 per other step."""

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
        return self._obs(), (1.0 if done else -0.01), done or self.t >= self.max_steps


class Policy(nn.Module):
    def __init__(self, n_obs, n_actions):
        super().__init__()
        self.affine1 = nn.Linear(n_obs, 32)
        self.action_head = nn.Linear(32, n_actions)
        self.value_head = nn.Linear(32, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def select_action(model, state, args):
    state = torch.from_numpy(state).to(torch.get_default_dtype())
    probs, state_value = model(state)
    m = Categorical(probs)
    action = args.sample(m)
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item()


def finish_episode(model, optimizer, gamma):
    eps = np.finfo(np.float32).eps.item()
    R, returns = 0.0, []
    policy_losses, value_losses = [], []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(model.saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    optimizer.zero_grad()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]
    return loss.item()


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    env = Corridor()
    model = Policy(env.length + 1, 2)
    args.init(model)
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    losses, lengths = [], []
    for i_episode in range(args.steps):
        state = env.reset()
        for t in range(1, env.max_steps + 1):
            action = select_action(model, state, args)
            state, reward, done = env.step(action)
            model.rewards.append(reward)
            if done:
                break
        lengths.append(t)
        losses.append(finish_episode(model, optimizer, args.gamma))
    return losses if args.double else lengths
