"""coursehelpers: the thin package behind the course's lessons.

Import what you need from its modules, so every name says where it lives. Every task
takes the same three steps, datasets -> ``*_dataloaders`` -> ``*_learner``:

    from coursehelpers.core import course_size, default_device, set_seed
    from coursehelpers.data import get_data
    from coursehelpers.images import image_datasets
    from coursehelpers.vision import image_dataloaders, vision_learner
"""
__version__ = "0.2.0"
