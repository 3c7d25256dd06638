"""coursehelpers: the thin package behind the course's lessons.

Import what you need from its modules, so every name says where it lives:

    from coursehelpers.core import course_size, default_device, set_seed
    from coursehelpers.learner import DataLoaders, Learner
    from coursehelpers.data import get_data
"""
__version__ = "0.1.0"
