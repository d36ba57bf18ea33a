"""What the tests share as a library: builders, fake AWS, DNS world, faults, app pilot.

Test modules import from here, never from one another. The helpers assert as tests
do, so pytest rewrites their asserts too (registered before any of them is imported).
"""

import pkgutil

import pytest

pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
