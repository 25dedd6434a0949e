"""The store: SQLAlchemy 2 models, units of work, repositories and migrations.

Entry points (built by `garde.bootstrap`, one engine per process):

- `engine.make_engine(url)`, `engine.make_session_factory(engine)`;
- `uow.SqlUnitOfWork(session_factory)`: ``studies``, ``directory``, ``roster``, ``audit``;
- `instance_index.SqlInstanceIndex(session_factory)`: the gateway's intake index;
- `migrate.upgrade(url)`, `migrate.check_up_to_date(url)`.

Repositories return the frozen records of `records.py`; ORM rows never leave the
package.
"""
