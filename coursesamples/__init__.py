"""Build tooling that makes the course's bundled offline samples; a learner need not read it.

One module per dataset (``mnist_sample``, ``pets``, ``planet``, ...), each with
``make_sample(dest: Path) -> None``, which writes a small sample in the real
dataset's layout. ``coursehelpers.data.get_data(name, "sample")`` runs the right
module once, on first use, and caches its output under ``<data folder>/sample/``;
lessons only ever see the finished folders. Two modules feed the scripts that
make the bundled weights instead: ``shapes`` (``data/make_tiny_resnet.py``) and
``english`` (``data/make_sample_lm.py``).
"""
