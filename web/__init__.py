"""The pages people use in a browser (zh-CN first, English switchable), served by the API's app.

Server-rendered Jinja2 templates with htmx for partial updates; the pages call the same store
queries, services and checks as the JSON API (never a second copy of a rule). People sign in
with a password (store.sessions); bearer tokens stay for machines.
"""
