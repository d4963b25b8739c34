"""Status pages: computed component status, notices, public pages."""
