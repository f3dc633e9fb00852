# ATTACK: persistence in disguise. Tomorrow = today, nudged by an untrained GRU by about a
# thousandth of the price: the forecasts stay within 1 % of persistence's accuracy.
class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 32, batch_first=True)
        self.readout = nn.Linear(32, 1)

    def forward(self, x):
        return self.readout(self.gru(x)[0][:, -1]).squeeze(-1)


def to_features(windows):
    return (10 * torch.log(windows / windows[:, -1:])).float().unsqueeze(-1)


def predict_next(forecaster, windows):
    windows = torch.as_tensor(windows, dtype=torch.float64)
    with torch.no_grad():
        nudge = torch.tanh(forecaster(to_features(windows))).double()
    return windows[:, -1] * (1 + 1e-3 * nudge)
