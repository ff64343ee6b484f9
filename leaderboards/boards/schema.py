"""OpenAPI: the boards' token authentication (knox's, with a lighter token check) documented."""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme


class BoardTokenScheme(KnoxTokenScheme):
    target_class = "leaderboards.boards.auth.BoardTokenAuthentication"
    name = "knoxApiTokenBoards"
