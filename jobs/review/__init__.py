"""Review of proposed tools (approve, reject, rename, merge, retire): the command and its checks."""
