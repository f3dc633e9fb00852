"""Small synthetic tasks for Lab 6's problem shapes. Everything is generated from a seed: no downloads.

Token id 0 is always padding. Shapes are batch first.
"""

import numpy as np

PAD = 0

# ---------------------------------------------------------------- many-to-one: sentiment
SENTIMENT_VOCAB = ["<pad>", "not", "the", "movie", "plot", "acting", "was", "is", "really", "very", "and",
                   "good", "great", "fun", "excellent", "loved",
                   "bad", "awful", "boring", "terrible", "hated"]
NOT = 1
POSITIVE = range(11, 16)
NEGATIVE = range(16, 21)
SENTIMENT_WORDS = np.arange(11, 21)
FILLER = np.arange(2, 11)


def sentiment_of(sentence) -> int:
    """Summed sentiment of a token sequence: +1 per positive word, -1 per negative, flipped after "not"."""
    total = 0
    for k, word in enumerate(sentence):
        sign = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        total += -sign if k and sentence[k - 1] == NOT else sign
    return total


def make_sentiment(n: int, seed: int | None = None, min_len: int = 4, max_len: int = 12):
    """Sentences of filler and 1-3 sentiment words; "not" flips the word right after it.

    Returns (tokens (n, max_len) int64 padded with 0, lengths (n,), labels (n,) with 1 = positive).
    The label is the sign of sentiment_of (ties are redrawn): the model has to read the whole
    sentence, and the order of "not" and the word it negates.
    """
    rng = np.random.default_rng(seed)
    tokens = np.zeros((n, max_len), dtype=np.int64)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    labels = np.zeros(n, dtype=np.int64)
    for i, length in enumerate(lengths):
        polarity = 0
        while polarity == 0:
            sentence = rng.choice(FILLER, size=length)
            for slot in rng.choice(length - 1, size=rng.integers(1, 4), replace=False):
                sentence[slot] = rng.choice(SENTIMENT_WORDS)
                if rng.random() < 0.3 and sentence[slot + 1] not in SENTIMENT_WORDS:
                    sentence[slot], sentence[slot + 1] = NOT, sentence[slot]            # "not good"
            polarity = sentiment_of(sentence)
        tokens[i, :length] = sentence
        labels[i] = int(polarity > 0)
    return tokens, lengths, labels


# ---------------------------------------------------------------- one-to-many: captions
CAPTION_VOCAB = ["<pad>", "<start>", "<end>", "one", "two", "three", "red", "green", "blue",
                 "circle", "square", "triangle"]
FEATURE_SIZE = 32


def make_captions(n: int, seed: int | None = None, noise: float = 0.1):
    """Feature vectors of synthetic "images" and their captions, e.g. "<start> two red square <end>".

    Each image has a count, a colour and a shape; its feature vector (n, FEATURE_SIZE) is a
    fixed random projection of the three one-hot attributes plus noise, as an image encoder
    would produce. Captions: int64 (n, 5) = <start> count colour shape <end>.
    """
    rng = np.random.default_rng(seed)
    attributes = rng.integers(0, 3, size=(n, 3))
    one_hot = np.zeros((n, 9))
    one_hot[np.arange(n)[:, None], attributes + np.array([0, 3, 6])] = 1.0
    projection = np.random.default_rng(12345).normal(size=(9, FEATURE_SIZE)) / 3.0   # the same "encoder" always
    features = (one_hot @ projection + noise * rng.normal(size=(n, FEATURE_SIZE))).astype(np.float32)
    captions = np.column_stack([np.full(n, 1), 3 + attributes[:, 0], 6 + attributes[:, 1],
                                9 + attributes[:, 2], np.full(n, 2)]).astype(np.int64)
    return features, captions


# ---------------------------------------------------------------- many-to-many: translation
SOURCE_VOCAB = ["<pad>"] + [str(d) for d in range(1, 9)]                       # digits 1..8
TARGET_VOCAB = ["<pad>", "<start>", "<end>", "one", "two", "three", "four", "five", "six", "seven", "eight"]


def make_translation(n: int, seed: int | None = None, min_len: int = 3, max_len: int = 6):
    """Toy translation: a digit sequence to its number words in reverse order ("1 2 3" -> "three two one").

    Returns (source (n, max_len) padded with 0, source_lengths (n,), target (n, max_len + 2)
    = <start> words <end> padded with 0). Reversal needs the whole source: a task for an encoder-decoder.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    source = np.zeros((n, max_len), dtype=np.int64)
    target = np.zeros((n, max_len + 2), dtype=np.int64)
    for i, length in enumerate(lengths):
        digits = rng.integers(1, 9, size=length)
        source[i, :length] = digits
        target[i, : length + 2] = [1, *(digits[::-1] + 2), 2]
    return source, lengths, target


# ---------------------------------------------------------------- bidirectional: right context
def make_next_token_task(n: int, seq_len: int = 12, vocab: int = 4, seed: int | None = None):
    """Label each position with the token that follows it (the last position with token 0).

    Returns tokens (n, seq_len) in 1..vocab and labels (n, seq_len) in 0..vocab. Only a model
    that sees the right-hand context can do better than chance.
    """
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, vocab + 1, size=(n, seq_len)).astype(np.int64)
    labels = np.concatenate([tokens[:, 1:], np.zeros((n, 1), dtype=np.int64)], axis=1)
    return tokens, labels


# ---------------------------------------------------------------- why gates matter: delayed recall
def make_delayed_recall(n: int, delay: int = 50, n_symbols: int = 4, seed: int | None = None):
    """Recall the symbol marked at step 0 after `delay` more random symbols (a many-to-one task).

    Every step carries a random symbol in 0..n_symbols-1 as a one-hot vector; one extra input
    channel, the marker, is 1 at step 0 only. The label is the symbol of step 0: to answer, a
    model must keep it for `delay` steps while ignoring the `delay` symbols that follow.
    Returns inputs float32 (n, delay + 1, n_symbols + 1) and labels int64 (n,); chance is 1/n_symbols.
    """
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, n_symbols, size=(n, delay + 1))
    inputs = np.zeros((n, delay + 1, n_symbols + 1), dtype=np.float32)
    inputs[np.arange(n)[:, None], np.arange(delay + 1), symbols] = 1.0
    inputs[:, 0, n_symbols] = 1.0
    return inputs, symbols[:, 0].astype(np.int64)


def decode(ids, vocab: list[str]) -> str:
    """Token ids to words, without padding."""
    return " ".join(vocab[i] for i in ids if i != PAD)
