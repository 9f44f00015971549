import pytest

from flowtrail import InvalidKey
from flowtrail.core.util.keys import validate_key


@pytest.mark.parametrize("key", ["a.csv", "raw/batch1/a.fastq.gz", "x y/z", "ünïcode/ok.txt"])
def test_relative_paths_are_valid_keys(key):
    assert validate_key(key) == key


def test_trailing_slash_is_dropped():
    assert validate_key("results/folder/") == "results/folder"


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("/abs/path.csv", "absolute"),
        ("C:/data.csv", "absolute"),
        ("a\x00b", "control character"),
        ("line\nbreak", "control character"),
        ("a\\b", "backslash"),
        ("", "empty"),
        ("a//b", "empty or '.'"),
        ("./a", "empty or '.'"),
        ("s3://bucket/key", "URL"),
    ],
)
def test_unsafe_keys_are_rejected_with_a_reason(key, fragment):
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert fragment in str(info.value)


def test_invalid_key_is_also_a_value_error():
    with pytest.raises(ValueError):
        validate_key("../x")
