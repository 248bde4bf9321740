"""The trust tests use the shared decision and list fixtures."""

from tests.trust.factories import *  # noqa: F403
