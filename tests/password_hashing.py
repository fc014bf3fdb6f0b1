"""A quick password hasher for the test process: users are created in most tests, and PBKDF2 at the
production iteration count costs a third of a second of CPU per password, at every create_user and
every login check.

It is PBKDF2-SHA256 under the production hasher's own name, with fewer iterations. A hash carries
its iteration count, so a web process started by a test with the production settings verifies
these hashes like any older one.
"""
from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1000
