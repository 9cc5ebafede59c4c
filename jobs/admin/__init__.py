"""The Django admin for jobs: one module per concern; importing the package registers them."""

from jobs.admin import batches  # noqa: F401  (registers the ModelAdmins)
