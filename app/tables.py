"""Every table, imported in one place so alembic and tests see the whole schema."""

from app.api import models as _api_models  # noqa: F401
from app.audit import models as _audit_models  # noqa: F401
from app.audit_packs import models as _audit_pack_models  # noqa: F401
from app.db.base import Base
from app.deadlines import models as _deadline_models  # noqa: F401
from app.hires import models as _hire_models  # noqa: F401
from app.integrations.hris import models as _hris_models  # noqa: F401
from app.integrations.webhooks import models as _webhook_models  # noqa: F401
from app.job_mappings import models as _job_mapping_models  # noqa: F401
from app.licences import models as _licence_models  # noqa: F401
from app.obligations import models as _obligation_models  # noqa: F401
from app.organisations import models as _organisation_models  # noqa: F401
from app.sandbox import models as _sandbox_models  # noqa: F401

metadata = Base.metadata
