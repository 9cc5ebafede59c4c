"""The Django admin for jobs: one module per concern; importing the package registers them."""

import heygem_site.admin_generics  # noqa: F401  (first: ModelAdmin[...] at run time)
from jobs.admin import accounts, batches, exports, library, webhooks  # noqa: F401  (registers them)
