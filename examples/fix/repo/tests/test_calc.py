import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from calc import average


def test_average():
    assert average([2, 4, 6]) == 4
