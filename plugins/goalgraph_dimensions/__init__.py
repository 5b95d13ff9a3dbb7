"""First-party custom dimensions: sale type and company category (SuperOffice's target dimensions).

Each reads a custom attribute of deals (and activities; company category also of tickets). Admins can add elements over GraphQL.
"""

from __future__ import annotations

from goalgraph.features import CUSTOM_DIMENSIONS
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import Dimension, FactKind

__version__ = "0.1.0"


@hookimpl
def goalgraph_register_dimensions() -> list[Dimension]:
    return [
        Dimension("sale_type", "Sale type", attribute="sale_type", applies_to=(FactKind.DEAL, FactKind.ACTIVITY),
                  elements=("New business", "Upsell", "Renewal"), feature=CUSTOM_DIMENSIONS,
                  description="The kind of sale, from the fact's `sale_type` attribute."),
        # Tickets (the service plugin's fact kind) carry the customer's segment too.
        Dimension("company_category", "Company category", attribute="company_category",
                  applies_to=(FactKind.DEAL, FactKind.ACTIVITY, "ticket"), elements=("SMB", "Mid-market", "Enterprise"),
                  feature=CUSTOM_DIMENSIONS,
                  description="The customer's segment, from the fact's `company_category` attribute."),
    ]
