"""The WebUI's tabs: one module per tab, each with a `build()` that lays out widgets and wires rvc.service.

`TABS` is the page's tab order; `I18N` holds the English and Chinese texts (pass it to `launch(i18n=...)`).
"""

from tabs import inference, models, oneclick, system, tasks, train
from tabs.i18n import I18N

TABS = [inference, train, oneclick, models, tasks, system]

__all__ = ["I18N", "TABS"]
