-- Saved dashboards (src/dashboards/): a tenant's named set of widgets over the analytics operations,
-- with the filters they share. `version` starts at 1 and goes up by one on every update: it is the
-- ETag, and a write whose If-Match names an older version is refused (412). Every tenant has exactly
-- one default dashboard (created on its first read; editable, not deletable): the partial unique index.
SET LOCAL ROLE pulse_owner;

CREATE TABLE dashboards (
  tenant_id    uuid        NOT NULL,
  id           uuid        NOT NULL,
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
  description  text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
  filters      jsonb       NOT NULL,
  widgets      jsonb       NOT NULL CHECK (jsonb_typeof(widgets) = 'array'),
  is_default   boolean     NOT NULL DEFAULT false,
  version      integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_by   text        NOT NULL,
  updated_by   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX dashboards_one_default ON dashboards (tenant_id) WHERE is_default;
-- the list order: the default first, then oldest first
CREATE INDEX dashboards_tenant_order ON dashboards (tenant_id, (NOT is_default), created_at, id);

ALTER TABLE dashboards ENABLE ROW LEVEL SECURITY;
ALTER TABLE dashboards FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dashboards
  USING (tenant_id = app_tenant_id())
  WITH CHECK (tenant_id = app_tenant_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON dashboards TO pulse_app;
