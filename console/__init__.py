"""工作台: the staff's web console, served by the API's Litestar app (see ``console.app``)."""
