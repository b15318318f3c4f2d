"""The widget form (``dms_magic.form()``, ``%dmschat form``): ``box`` is the form itself (a VBox),
``rows`` one control per request parameter, ``uploads`` the images control."""
from dms_magic.notebook.form.box import DOUBLE_CLICK_SECONDS, DmsChatForm, form

__all__ = ["DmsChatForm", "form", "DOUBLE_CLICK_SECONDS"]
