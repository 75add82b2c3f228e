"""The names a Keras user tries first: ``history.history`` and ``restore_best_weights``."""

from __future__ import annotations

import pytest

from nn import MLP, SGD, EarlyStopping, evaluate, fit, moons


def _run(val=None, callbacks=(), epochs=6):
    train = moons(n=30, noise=0.1, seed=0)
    model = MLP(2, [8, 1], seed=0)
    history = fit(
        model,
        train,
        "hinge",
        SGD(model.parameters(), lr=0.2),
        epochs=epochs,
        val=val,
        callbacks=callbacks,
        verbose=False,
    )
    return model, history


def test_history_dict_has_keras_keys_and_our_columns():
    val = moons(n=20, noise=0.1, seed=1)
    _, history = _run(val=val)
    keras = history.history
    assert list(keras) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert keras["loss"] == history.train_loss and len(keras["loss"]) == 6
    assert keras["accuracy"] == history.train_acc
    assert keras["val_loss"] == history.val_loss
    assert keras["val_accuracy"] == history.val_acc
    assert all(isinstance(v, float) for v in keras["val_loss"])


def test_history_dict_without_validation_has_no_val_keys_and_is_a_copy():
    _, history = _run()
    keras = history.history
    assert list(keras) == ["loss", "accuracy"]  # as Keras, without validation data
    keras["loss"].append(123.0)
    assert 123.0 not in history.train_loss


def _flipped_val():
    # Validation labels flipped: the better the model fits, the worse val_loss gets.
    train = moons(n=30, noise=0.1, seed=0)
    return (train.X, [1 - y for y in train.y])


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_is_restore_best(restore):
    stopper = EarlyStopping(patience=3, restore_best_weights=restore)
    assert stopper.restore_best is restore
    val = _flipped_val()
    model, history = _run(val=val, callbacks=[stopper], epochs=50)
    assert history.stop_reason == "early_stopping"
    best = history.best_epoch("val_loss")
    kept = best if restore else len(history)  # the epoch whose weights the model ends with
    assert history.restored_epoch == (best if restore else None)
    assert best < len(history)
    val_loss, _ = evaluate(model, val, "hinge")
    assert val_loss == pytest.approx(history.val_loss[kept - 1])


def test_restore_best_weights_false_overrides_the_default():
    assert EarlyStopping(restore_best_weights=False).restore_best is False
    assert EarlyStopping(restore_best=False, restore_best_weights=False).restore_best is False


def test_restore_best_and_restore_best_weights_that_disagree_are_refused():
    with pytest.raises(ValueError, match="restore_best=False and restore_best_weights=True"):
        EarlyStopping(restore_best=False, restore_best_weights=True)
