"""Per-epoch controls: what may change between epochs (learning rate) and whether to stop, for the loop to ask.

The loop (nnlab.train.loop) calls, for every epoch it trains:
  - `before_epoch(epoch)` -> a learning rate to set for that epoch, or None to leave the optimizer's as it is;
  - `after_epoch(epoch, row)` -> True to stop after this epoch (row: the history.csv row just written);
and `state()` -> a JSON-able dict saved with each checkpoint, `restore(state)` when a run resumes from one, and
`finish(model)` once training ends (e.g. to put back the best weights). Early stopping and schedules live in
objects with these five methods; while one is active the loop compiles one epoch per call, so it can act between
every two epochs.
"""


class NoControls:
    """Train every epoch at the configured learning rate; the loop may then run many epochs per compiled call."""

    active = False

    def before_epoch(self, epoch):
        return None

    def after_epoch(self, epoch, row):
        return False

    def state(self):
        return {}

    def restore(self, state):
        pass

    def finish(self, model):
        pass
