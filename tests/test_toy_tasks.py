import numpy as np
import torch
from torch import nn

from labs import toy_tasks
from labs.training import fit, sample_batch


def test_sentiment_labels_follow_the_words_and_negation():
    tokens, lengths, labels = toy_tasks.make_sentiment(300, seed=0)
    assert tokens.shape == (300, 12) and lengths.min() >= 4 and lengths.max() <= 12
    assert 0.35 < labels.mean() < 0.65
    for row, length, label in zip(tokens, lengths, labels, strict=True):
        assert (row[length:] == 0).all() and (row[:length] != 0).all()
        assert int(toy_tasks.sentiment_of(list(row[:length])) > 0) == label
    not_good = [toy_tasks.NOT, toy_tasks.SENTIMENT_VOCAB.index("good")]
    assert toy_tasks.sentiment_of(not_good) == -1
    assert np.array_equal(toy_tasks.make_sentiment(5, seed=3)[0], toy_tasks.make_sentiment(5, seed=3)[0])


def test_captions_describe_the_features():
    features, captions = toy_tasks.make_captions(50, seed=0)
    assert features.shape == (50, toy_tasks.FEATURE_SIZE) and captions.shape == (50, 5)
    words = toy_tasks.decode(captions[0], toy_tasks.CAPTION_VOCAB).split()
    assert words[0] == "<start>" and words[-1] == "<end>" and words[1] in ("one", "two", "three")
    same = toy_tasks.make_captions(50, seed=0, noise=0.0)[0]
    assert np.allclose(same[(captions == captions[0]).all(1)], same[0])


def test_translation_reverses_the_digits():
    source, lengths, target = toy_tasks.make_translation(20, seed=1)
    for src, length, tgt in zip(source, lengths, target, strict=True):
        digits = toy_tasks.decode(src, toy_tasks.SOURCE_VOCAB).split()
        words = toy_tasks.decode(tgt, toy_tasks.TARGET_VOCAB).split()
        assert len(digits) == length and words[0] == "<start>" and words[-1] == "<end>"
        assert [toy_tasks.TARGET_VOCAB.index(w) - 2 for w in words[1:-1]] == [int(d) for d in digits[::-1]]


def test_next_token_labels():
    tokens, labels = toy_tasks.make_next_token_task(10, seq_len=6, seed=0)
    assert np.array_equal(labels[:, :-1], tokens[:, 1:]) and (labels[:, -1] == 0).all()


def test_fit_reduces_the_loss_and_checks_its_input():
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = nn.Linear(3, 1)

    def loss(step):
        batch = sample_batch(len(x), 64)
        return nn.functional.mse_loss(model(x[batch]).squeeze(-1), y[batch])

    losses = fit(model, loss, n_steps=300, lr=0.05)
    assert len(losses) == 300 and losses[-1] < 0.01 * losses[0]
    assert not model.training
    try:
        fit(model, loss, n_steps=0)
    except ValueError:
        pass
    else:
        raise AssertionError("n_steps=0 must be refused")


def test_delayed_recall_marks_and_labels_step_zero():
    inputs, labels = toy_tasks.make_delayed_recall(200, delay=7, n_symbols=3, seed=0)
    assert inputs.shape == (200, 8, 4) and inputs.dtype == np.float32 and labels.shape == (200,)
    assert np.array_equal(inputs[..., :3].sum(-1), np.ones((200, 8))), "one symbol per step"
    assert (inputs[:, 0, 3] == 1).all() and (inputs[:, 1:, 3] == 0).all(), "the marker is at step 0 only"
    assert np.array_equal(inputs[:, 0, :3].argmax(-1), labels) and set(labels) == {0, 1, 2}
    later = inputs[:, 1:, :3].argmax(-1)
    assert 0.2 < (later == labels[:, None]).mean() < 0.45, "later symbols are random, not the label"
    assert np.array_equal(toy_tasks.make_delayed_recall(5, seed=4)[0], toy_tasks.make_delayed_recall(5, seed=4)[0])
