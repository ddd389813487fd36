import numpy as np
import pytest

from exam.cat.blueprint import ContentRule, ExposureConfig, SectionConfig
from itembank.synthetic import synthetic_bank

SEED = bytes(range(32))


@pytest.fixture(scope="session")
def bank():
    """400 3PL items in four topics with 40 enemy pairs."""
    return synthetic_bank(400, seed=7, domain="TIU", topics=4, enemy_pairs=40)


@pytest.fixture
def blueprint():
    return SectionConfig(
        name="TIU",
        domain="TIU",
        max_items=20,
        content=tuple(ContentRule(f"T{i}", 4, 6) for i in range(1, 5)),
        exposure=ExposureConfig("randomesque", k=5),
    )


def answers(seed: int = 0):
    """A response rule for the single-attempt API: correct with probability 0.6."""
    rng = np.random.default_rng(seed)
    return lambda: int(rng.random() < 0.6)
