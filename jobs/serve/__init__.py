"""The explore-and-review web app (``intentmine serve``) and SQL views for analysts (``intentmine sql``)."""
