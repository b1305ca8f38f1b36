-- Any write to what an access decision reads notifies `roster_access`, once per statement and at
-- commit (PostgreSQL delivers notifications only then, and one per distinct payload per
-- transaction). `roster serve` keeps answers in memory and forgets them all on a notification:
-- writes made by Roster, by the app or by hand in SQL alike.
CREATE FUNCTION roster_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('roster_access', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER memberships_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER grants_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grants
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER resources_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resources
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER organizations_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organizations
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER plans_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plans
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER roles_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER role_permissions_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER users_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
