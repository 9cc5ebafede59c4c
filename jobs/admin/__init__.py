"""The Django admin for jobs: one module per concern; importing the package registers them."""

from jobs.admin import batches, exports, library, webhooks  # noqa: F401  (registers the ModelAdmins)
