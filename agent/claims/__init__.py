"""Monthly SLA claims: statements → annex data + digest (`build`), charts (`charts`), PDF/CSV/JSON
(`render`), and where statements come from (`sources`)."""

from agent.claims.build import Claim, ClaimError, ClaimItem, ClientInfo, ProviderInfo, build_claim

__all__ = ["Claim", "ClaimError", "ClaimItem", "ClientInfo", "ProviderInfo", "build_claim"]
