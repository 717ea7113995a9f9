"""Users, passwords, tokens, namespace permissions and JWTs: the framework-free auth core."""
