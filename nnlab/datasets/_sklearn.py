"""What the data sets shipped inside scikit-learn share: one fixed, stratified test split."""

from sklearn import model_selection

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, so that runs with different seeds are scored on the same test examples


def fixed_test_split(x, y):
    """(x_train, x_test, y_train, y_test): a stratified TEST_FRACTION held out the same way for every run."""
    return model_selection.train_test_split(x, y, test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED)
